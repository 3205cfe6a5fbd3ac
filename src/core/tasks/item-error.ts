import { InputError } from '../errors.ts';

/**
 * An input the model cannot take, reported in place of its output. Items of concurrent requests share one
 * batch, so a handler that threw for one bad item would fail every request in the batch; instead it returns
 * this marker for that item, and the task's `respond` turns it into a 400 for the request that sent it.
 */
export interface ItemError {
  itemError: string;
}

export function itemError(message: string): ItemError {
  return { itemError: message };
}

export function isItemError(value: unknown): value is ItemError {
  return !!value && typeof value === 'object' && typeof (value as ItemError).itemError === 'string';
}

/** Throws the first item error among a request's outputs (a 400 for that request only). */
export function throwItemErrors(outputs: unknown[]): void {
  const failed = outputs.find(isItemError);
  if (failed) throw new InputError(failed.itemError);
}
