/** PostgreSQL returns bigint, numeric and count() as strings (they may exceed 2^53); modelhost's values do not. */
export function toNumber(value: unknown): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : Number(value);
}

export function toDate(value: unknown): Date | null {
  return value === null || value === undefined ? null : new Date(toNumber(value));
}
