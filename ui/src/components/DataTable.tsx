import { Table } from "@mantine/core";
import { type ColumnDef, type RowData, flexRender, tableFeatures, useTable } from "@tanstack/react-table";
import type { KeyboardEvent } from "react";

// The lists need no sorting, filtering or paging of their own (the backend
// filters), so the table registers no features beyond the core row model.
const features = tableFeatures({});

/** A column of a `DataTable`. */
export type Column<T extends RowData> = ColumnDef<typeof features, T>;

interface Props<T extends RowData> {
  data: T[];
  columns: Column<T>[];
  rowId: (row: T) => string;
  empty: string;
  testId?: string;
  /** Makes rows focusable and opens one on click or Enter. */
  onOpen?: (row: T) => void;
}

/** A TanStack table rendered with Mantine's Table. */
export function DataTable<T extends RowData>({ data, columns, rowId, empty, testId, onOpen }: Props<T>) {
  const table = useTable({ features, data, columns, getRowId: rowId });
  const onKey = (row: T) => (e: KeyboardEvent) => {
    if (e.key === "Enter") onOpen?.(row);
  };
  return (
    <Table.ScrollContainer minWidth={600}>
      <Table striped highlightOnHover={Boolean(onOpen)} data-testid={testId}>
        <Table.Thead>
          {table.getHeaderGroups().map((group) => (
            <Table.Tr key={group.id}>
              {group.headers.map((h) => (
                <Table.Th key={h.id}>{flexRender(h.column.columnDef.header, h.getContext())}</Table.Th>
              ))}
            </Table.Tr>
          ))}
        </Table.Thead>
        <Table.Tbody>
          {table.getRowModel().rows.length === 0 ? (
            <Table.Tr>
              <Table.Td colSpan={columns.length} c="dimmed">
                {empty}
              </Table.Td>
            </Table.Tr>
          ) : (
            table.getRowModel().rows.map((row) => (
              <Table.Tr
                key={row.id}
                data-testid={`row-${row.id}`}
                tabIndex={onOpen ? 0 : undefined}
                style={onOpen ? { cursor: "pointer" } : undefined}
                onClick={onOpen ? () => onOpen(row.original) : undefined}
                onKeyDown={onOpen ? onKey(row.original) : undefined}
              >
                {row.getAllCells().map((cell) => (
                  <Table.Td key={cell.id}>{flexRender(cell.column.columnDef.cell, cell.getContext())}</Table.Td>
                ))}
              </Table.Tr>
            ))
          )}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
