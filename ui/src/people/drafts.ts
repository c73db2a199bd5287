// Unsaved form input kept across a lock by the same person: the lock
// screen replaces the pages (so the page holds no subject data), and the
// form page puts back what was typed when it opens again after unlocking.
// Kept in memory only, and dropped when a person signs out or switches.

export interface Draft {
  values: Record<string, string>;
  touched: string[];
  status: string;
}

const drafts = new Map<string, Draft>();
const stashes = new Set<() => void>();

/** A page with unsaved input registers how to stash it; returns the unregister function. */
export function onStash(stash: () => void): () => void {
  stashes.add(stash);
  return () => stashes.delete(stash);
}

/** Before the desk locks: every open page stashes its unsaved input. */
export function stashAll() {
  for (const stash of stashes) stash();
}

export function putDraft(key: string, draft: Draft) {
  drafts.set(key, draft);
}

/** The draft of `key`, removed: it is put back once. */
export function takeDraft(key: string): Draft | undefined {
  const draft = drafts.get(key);
  drafts.delete(key);
  return draft;
}

/** A person signed out or switched: nothing they typed stays. */
export function clearDrafts() {
  drafts.clear();
}
