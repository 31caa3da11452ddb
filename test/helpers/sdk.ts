// Neon's SDK (@neondatabase/api-client) in tests: the error side of its calls.
import assert from 'node:assert/strict';
import { assertMatchesSpec } from './spec.ts';

/** Runs an SDK call expected to fail; returns its HTTP status and Neon error body (spec-checked). */
export async function sdkFailure(
  operationId: string,
  call: Promise<unknown>,
): Promise<{
  status: number;
  body: { code: string; message: string; request_id: string } & Record<string, unknown>;
}> {
  try {
    await call;
  } catch (err) {
    const res = (err as { response?: { status: number; data: never } }).response;
    assert.ok(res, `expected an HTTP error, got ${String(err)}`);
    assertMatchesSpec(operationId, res.status, res.data);
    return { status: res.status, body: res.data };
  }
  assert.fail(`${operationId} should have failed`);
}
