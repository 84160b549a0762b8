/**
 * Which targets hear an event, and the per-target delivery record. The record names the target
 * by its kind and its secret's name: the URL is the secret, and never part of it.
 */
import { resolveEnvironment } from "../config/environments.js";
import type { Notifications, NotifyEvent, NotifyTarget, TargetKind } from "../config/notifications.js";

/** An environment's notification settings; the environment's host need not be set. */
export function notificationsOf(envName: string, environments: Record<string, unknown> | undefined, origin: string): Notifications {
  return resolveEnvironment(envName, environments, origin, { requireHost: false }).notifications;
}

/** The targets that hear `event`: those listing it, or, without a list of their own, the environment's list. */
export function routeTargets(n: Notifications, event: NotifyEvent): NotifyTarget[] {
  return n.targets.filter((t) => (t.events ?? n.events).includes(event));
}

/** The secret names the routed targets need, once each, in order (a secret may serve two targets). */
export function secretsFor(n: Notifications, event: NotifyEvent): string[] {
  return [...new Set(routeTargets(n, event).map((t) => t.secret))];
}

export interface DeliveryRecord {
  target: TargetKind;
  /** The name of the secret holding the URL. */
  secret: string;
  event: NotifyEvent;
  status: "delivered" | "failed";
  attempts: number;
  /** The last HTTP status, when an answer came. */
  httpStatus?: number;
  /** Why it failed (never the URL). */
  cause?: string;
}

export interface IncidentRecord {
  action: "opened" | "updated" | "closed" | "none" | "failed";
  number?: number;
  url?: string;
  /** Why nothing was done, or why it failed. */
  detail?: string;
}

/** One line per record, for the run's output: `slack (SHIPIT_SLACK_WEBHOOK): delivered, 2 attempts`. */
export function deliveryLine(r: DeliveryRecord): string {
  const tries = `${r.attempts} attempt${r.attempts === 1 ? "" : "s"}`;
  return r.status === "delivered" ? `${r.target} (${r.secret}): ${r.event} delivered, ${tries}` : `${r.target} (${r.secret}): ${r.event} NOT delivered after ${tries}: ${r.cause ?? "unknown cause"}`;
}

/** The warnings a run prints and puts in the PR comment: each failed delivery, and a failed incident call. */
export function deliveryWarnings(records: DeliveryRecord[], incident?: IncidentRecord): string[] {
  const out = records.filter((r) => r.status === "failed").map((r) => `notification not delivered: ${deliveryLine(r)}`);
  if (incident?.action === "failed") out.push(`incident issue not updated: ${incident.detail ?? "unknown cause"}`);
  return out;
}
