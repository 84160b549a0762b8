import { ShipitError } from "../../src/core/errors.js";

/** The ShipitError `f` throws (to assert its code and message); fails the test when it throws nothing or another error. */
export function thrown(f: () => unknown): ShipitError {
  try {
    f();
  } catch (e) {
    if (e instanceof ShipitError) return e;
    throw e;
  }
  throw new Error("expected a ShipitError");
}
