//! The built-in demo EDC: the REDCap simulator with the demo study,
//! started in-process on 127.0.0.1 when a demo desk needs it. The desk
//! (`sitedesk_core::desk`) decides when; this only starts and stops it.

use std::path::PathBuf;
use std::sync::Mutex;

use sitedesk_core::desk::{DemoEdc, DemoFuture};
use sitedesk_core::edc::Token;

/// The simulator, while it runs.
#[derive(Default)]
pub struct DemoSimulator {
    running: Mutex<Option<edc_sim::RunningSim>>,
}

impl DemoEdc for DemoSimulator {
    fn start(&self, database: PathBuf) -> DemoFuture<'_, Result<(String, Token), String>> {
        Box::pin(async move {
            let running = self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(|sim| sim.api_url());
            let url = match running {
                Some(url) => url,
                None => {
                    let sim = edc_sim::Simulator::start(edc_sim::SimConfig {
                        database: edc_sim::Database::File(database),
                        ..edc_sim::SimConfig::new(edc_sim::Project::demo())
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                    let url = sim.api_url();
                    tracing::info!(%url, "demo EDC started");
                    *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some(sim);
                    url
                }
            };
            // The desk is at the demo study's first site: its token sees
            // that site's records only, as a site user's token does in
            // REDCap.
            let token = Token::parse(edc_sim::DEMO_TOKEN_RIVERSIDE)
                .ok_or_else(|| "the demo token is malformed".to_owned())?;
            Ok((url, token))
        })
    }

    fn stop(&self) -> DemoFuture<'_, ()> {
        Box::pin(async move {
            let sim = self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(sim) = sim {
                sim.shutdown().await;
                tracing::info!("demo EDC stopped");
            }
        })
    }
}
