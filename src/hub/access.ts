/**
 * Who may see a private repository (`private: true` in its card or modelhost.json): a caller whose token has
 * the `inference` scope, or the server's owner (a loopback-only server before any token exists; `--auth off`).
 * Callers without a token that the operator lets in (`--anonymous-tier`) do not. Public repositories follow
 * the server's token rules unchanged.
 */
import type { HubRepoInfo } from '../core/model.ts';
import type { Principal } from '../auth/guard.ts';

export interface HubAccess {
  off?: boolean;
  guard: { authenticate(authorization: string | undefined, scope: 'inference'): Promise<Principal> };
}

export interface Caller {
  authorization?: string;
  /** Set when the route's own access check already ran. */
  principal?: Principal;
}

/** Whether `caller` may see `repo`. Never throws: a bad token sees what no token sees. */
export async function maySee(repo: Pick<HubRepoInfo, 'private'>, caller: Caller, access: HubAccess | undefined): Promise<boolean> {
  if (!repo.private || !access || access.off) return true;
  let principal = caller.principal;
  if (!principal) {
    try {
      principal = await access.guard.authenticate(caller.authorization, 'inference');
    } catch {
      return false;
    }
  }
  const ownerOrToken = principal.tokenId !== null || principal.owner === 'admin';
  return ownerOrToken && principal.scopes.includes('inference');
}
