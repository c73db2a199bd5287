// The part of d3-flame-graph's chart API the diagnostics panel uses (the
// package ships JavaScript only).
declare module "d3-flame-graph" {
  import type { Selection } from "d3-selection";

  export interface FlameDatum {
    data: { name: string; value: number };
  }

  export interface FlameGraph {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any datum: the chart reads name, value and children
    (selection: Selection<HTMLDivElement, any, null, undefined>): void;
    width(px: number): FlameGraph;
    cellHeight(px: number): FlameGraph;
    minFrameSize(px: number): FlameGraph;
    transitionDuration(ms: number): FlameGraph;
    sort(sort: boolean): FlameGraph;
    selfValue(self: boolean): FlameGraph;
    setDetailsElement(el: HTMLElement | null): FlameGraph;
    setSearchMatch(match: (d: FlameDatum, term: string) => boolean): FlameGraph;
    setSearchHandler(handler: (results: FlameDatum[], sum: number, total: number) => void): FlameGraph;
    search(term: string): void;
    clear(): void;
    resetZoom(): void;
    destroy(): void;
  }

  export default function flamegraph(): FlameGraph;
}
