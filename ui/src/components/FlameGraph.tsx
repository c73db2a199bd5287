import flamegraph, { type FlameGraph as Chart } from "d3-flame-graph";
import { select } from "d3-selection";
import { forwardRef, useEffect, useImperativeHandle, useRef } from "react";

import type { FlameNode } from "../ipc";
import "./flamegraph.css";

export interface FlameGraphHandle {
  resetZoom: () => void;
}

interface Props {
  root: FlameNode;
  /** Highlights frames whose name contains this text (any case). */
  search: string;
  /** Told how many samples the highlighted frames hold, of all. */
  onMatches: (matched: number, total: number) => void;
  testId?: string;
}

/** A zoomable flame graph (click a frame to zoom in) drawn by d3-flame-graph. */
export const FlameGraph = forwardRef<FlameGraphHandle, Props>(function FlameGraph({ root, search, onMatches, testId }, ref) {
  const host = useRef<HTMLDivElement>(null);
  const details = useRef<HTMLDivElement>(null);
  const chart = useRef<Chart | null>(null);
  const matches = useRef(onMatches);
  matches.current = onMatches;

  useImperativeHandle(ref, () => ({ resetZoom: () => chart.current?.resetZoom() }), []);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const c = flamegraph()
      .width(Math.max(el.clientWidth, 600))
      .cellHeight(18)
      .minFrameSize(1)
      .transitionDuration(0)
      .sort(false)
      .setDetailsElement(details.current)
      // A plain substring, not a regular expression: "(" is a valid search.
      .setSearchMatch((d, term) => term !== "" && d.data.name.toLowerCase().includes(term.toLowerCase()))
      .setSearchHandler((_results, sum, total) => matches.current(sum, total));
    select(el).datum(root).call(c);
    chart.current = c;
    return () => {
      c.destroy();
      chart.current = null;
      select(el).selectAll("*").remove();
    };
  }, [root]);

  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    if (search.trim() === "") {
      c.clear();
      matches.current(0, root.value);
    } else {
      c.search(search.trim());
    }
  }, [search, root]);

  return (
    <div>
      <div ref={host} data-testid={testId} style={{ overflowX: "auto" }} />
      <div ref={details} data-testid={testId ? `${testId}-details` : undefined} style={{ minHeight: "1.5em", fontSize: 12 }} />
    </div>
  );
});
