import { Table } from "@mantine/core";
import { type ColumnDef, type RowData, flexRender, tableFeatures, useTable } from "@tanstack/react-table";
import { type Range, defaultRangeExtractor, measureElement, observeElementRect, useVirtualizer } from "@tanstack/react-virtual";
import { type KeyboardEvent, type ReactNode, useCallback, useEffect, useRef, useState } from "react";

import "./DataTable.css";

// The lists need no sorting, filtering or paging of their own (the backend
// filters), so the table registers no features beyond the core row model.
const features = tableFeatures({});

/** A column of a `DataTable`. */
export type Column<T extends RowData> = ColumnDef<typeof features, T>;

/**
 * Up to this many rows a table renders every row, as a plain table in the
 * page. Above it, it renders the rows on screen (and a few either side)
 * in a box of its own that scrolls under a sticky header: a desk with
 * 10,000 subjects lays out a few dozen rows, not 10,000.
 */
export const VIRTUALIZE_ABOVE = 100;
/** A row's height before it is measured: one line of text in Mantine's default cell padding. */
const ROW_ESTIMATE_PX = 41;
/** Rows rendered beyond each edge of the box, so that Tab finds the next row already there. */
const OVERSCAN = 10;
/** The height taken for a box without layout (hidden, or a test's DOM): one screenful. */
const NO_LAYOUT_PX = 600;

interface Props<T extends RowData> {
  data: T[];
  columns: Column<T>[];
  rowId: (row: T) => string;
  empty: string;
  testId?: string;
  /** Makes rows focusable and opens one on click or Enter; the arrow keys, Home and End move between rows. */
  onOpen?: (row: T) => void;
}

/**
 * A TanStack table rendered with Mantine's Table. Long lists are
 * virtualized with TanStack Virtual: only the rows in view are in the DOM,
 * between two spacer rows that keep the scroll height of the whole list.
 */
export function DataTable<T extends RowData>({ data, columns, rowId, empty, testId, onOpen }: Props<T>) {
  const table = useTable({ features, data, columns, getRowId: rowId });
  const rows = table.getRowModel().rows;
  const virtual = rows.length > VIRTUALIZE_ABOVE;
  const box = useRef<HTMLDivElement>(null);
  const tbody = useRef<HTMLTableSectionElement>(null);
  // The row that has the focus, or is about to get it, stays rendered
  // wherever the box scrolls, so scrolling never loses the keyboard's place.
  const [kept, setKept] = useState<number | null>(null);
  const pending = useRef<number | null>(null);

  const count = rows.length;
  const rangeExtractor = useCallback(
    (range: Range) => {
      const indexes = defaultRangeExtractor(range);
      if (kept === null || kept >= count || indexes.includes(kept)) return indexes;
      return [...indexes, kept].sort((a, b) => a - b);
    },
    [kept, count],
  );
  const virtualizer = useVirtualizer({
    enabled: virtual,
    count: virtual ? count : 0,
    getScrollElement: () => box.current,
    estimateSize: () => ROW_ESTIMATE_PX,
    getItemKey: (i) => rows[i]?.id ?? i,
    overscan: OVERSCAN,
    rangeExtractor,
    initialRect: { width: 0, height: NO_LAYOUT_PX },
    observeElementRect: (instance, cb) =>
      observeElementRect(instance, (rect) => cb(rect.height > 0 ? rect : { width: rect.width, height: NO_LAYOUT_PX })),
    // A row without layout keeps its estimate: at 0 px every row would be "in view".
    measureElement: (el, entry, instance) => measureElement(el, entry, instance) || ROW_ESTIMATE_PX,
  });

  const rowElement = (index: number) => tbody.current?.querySelector<HTMLElement>(`:scope > tr[data-index="${index}"]`);
  // A row the keyboard moved to before it was rendered gets the focus once it is.
  useEffect(() => {
    if (pending.current === null) return;
    const el = rowElement(pending.current);
    if (el) {
      pending.current = null;
      el.focus();
    }
  });

  const onKeyDown = (index: number, row: T) => (e: KeyboardEvent<HTMLTableRowElement>) => {
    if (e.target !== e.currentTarget) return;
    if (e.key === "Enter") {
      onOpen?.(row);
      return;
    }
    const last = count - 1;
    const moves: Record<string, number> = { ArrowDown: Math.min(index + 1, last), ArrowUp: Math.max(index - 1, 0), Home: 0, End: last };
    const to = moves[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const el = rowElement(to);
    if (el) el.focus();
    else {
      pending.current = to;
      setKept(to);
    }
  };

  const renderRow = (index: number): ReactNode => {
    const row = rows[index];
    if (!row) return null;
    const original = row.original;
    return (
      <Table.Tr
        key={row.id}
        ref={virtual ? virtualizer.measureElement : undefined}
        data-index={index}
        // Screen readers learn the row's place in the whole list, not among the rendered rows.
        aria-rowindex={virtual ? index + 2 : undefined}
        data-testid={`row-${row.id}`}
        // Mantine stripes by position among the <tr>s, which the spacer rows would upset.
        data-stripe={virtual && index % 2 === 0 ? "" : undefined}
        tabIndex={onOpen ? 0 : undefined}
        style={onOpen ? { cursor: "pointer" } : undefined}
        onClick={onOpen ? () => onOpen(original) : undefined}
        onKeyDown={onOpen ? onKeyDown(index, original) : undefined}
        onFocus={virtual ? () => setKept(index) : undefined}
      >
        {row.getAllCells().map((cell) => (
          <Table.Td key={cell.id}>{flexRender(cell.column.columnDef.cell, cell.getContext())}</Table.Td>
        ))}
      </Table.Tr>
    );
  };

  const spacer = (key: string, height: number) =>
    height > 0 ? (
      <tr key={key} aria-hidden="true" className="datatable-spacer">
        <td colSpan={columns.length} style={{ height }} />
      </tr>
    ) : null;

  let body: ReactNode;
  if (count === 0) {
    body = (
      <Table.Tr>
        <Table.Td colSpan={columns.length} c="dimmed">
          {empty}
        </Table.Td>
      </Table.Tr>
    );
  } else if (!virtual) {
    body = rows.map((_, index) => renderRow(index));
  } else {
    const parts: ReactNode[] = [];
    let end = 0;
    for (const item of virtualizer.getVirtualItems()) {
      parts.push(spacer(`gap-${item.index}`, item.start - end), renderRow(item.index));
      end = item.end;
    }
    parts.push(spacer("gap-end", virtualizer.getTotalSize() - end));
    body = parts;
  }

  const head = (
    <Table.Thead>
      {table.getHeaderGroups().map((group) => (
        <Table.Tr key={group.id} aria-rowindex={virtual ? 1 : undefined}>
          {group.headers.map((h) => (
            <Table.Th key={h.id}>{flexRender(h.column.columnDef.header, h.getContext())}</Table.Th>
          ))}
        </Table.Tr>
      ))}
    </Table.Thead>
  );

  if (!virtual) {
    return (
      <Table.ScrollContainer minWidth={600}>
        <Table striped highlightOnHover={Boolean(onOpen)} data-testid={testId}>
          {head}
          <Table.Tbody ref={tbody}>{body}</Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    );
  }
  return (
    <div ref={box} className="datatable-scroll">
      <Table highlightOnHover={Boolean(onOpen)} stickyHeader miw={600} aria-rowcount={count + 1} data-testid={testId} data-virtual>
        {head}
        <Table.Tbody ref={tbody}>{body}</Table.Tbody>
      </Table>
    </div>
  );
}
