import type { Role } from "../ipc";

const RANK: Record<Role, number> = { crc: 0, supervisor: 1, admin: 2 };

/** Whether a person of `role` may do what `needed` may: each role does all the one before it does (the backend checks the same). */
export function mayDo(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}
