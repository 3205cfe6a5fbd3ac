/** Database URLs carry passwords; nothing the store prints or throws may contain one. */

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`; also for URLs that do not parse. */
export function redactUrl(text: string): string {
  // Greedy up to the last `@` before a slash, so a password with a raw `@` in it is hidden whole.
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^\s/]*@/gi, '$1***@');
}

/** Removes the URL's password (raw and percent-decoded) wherever it appears in `message`. */
export function redactSecrets(message: string, url: string): string {
  let out = redactUrl(message);
  for (const secret of passwordsOf(url)) out = out.split(secret).join('***');
  return out;
}

function passwordsOf(url: string): string[] {
  try {
    const raw = new URL(url).password;
    if (!raw) return [];
    let decoded = raw;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      // A malformed escape: the raw form is all there is to hide.
    }
    return [...new Set([raw, decoded])];
  } catch {
    return [];
  }
}
