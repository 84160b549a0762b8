/**
 * What each health failure the host agent reports means, and what to do about it. The health
 * contract itself (the bot's `GET /api/health` answer) is BotHealthSchema in ./contracts.ts.
 */
export type HealthProblem =
  | "HEALTH_UNREACHABLE"
  | "HEALTH_NOT_JSON"
  | "HEALTH_BAD_SHAPE"
  | "HEALTH_NOT_CONNECTED"
  | "HEALTH_WRONG_VERSION"
  | "HEALTH_TIMEOUT"
  | "HEALTH_HTTP_STATUS"
  | "HEALTH_UNIT_INACTIVE"
  | "HEALTH_UNIT_NOT_STABLE"
  | "HEALTH_LOG_NOT_SEEN"
  | "HEALTH_LOG_UNREADABLE"
  | "CRASH_LOOP";

const ADVICE: Record<HealthProblem, string> = {
  HEALTH_UNREACHABLE: "the status server is not listening: check the unit's logs (journalctl -u UNIT) and that runtime.health_port matches healthUrl",
  HEALTH_NOT_JSON: "the endpoint answered something that is not JSON: is another program on that port?",
  HEALTH_BAD_SHAPE: "the JSON does not follow the health contract (status, connected, channel, version, uptime): see CONFIGURATION.md",
  HEALTH_NOT_CONNECTED: "the bot runs but is not connected to its channel: check server, channel and the bot password",
  HEALTH_WRONG_VERSION: "another version answers: the unit may run an old release, or the restart did not take",
  HEALTH_TIMEOUT: "no answer within the timeout: the bot may hang at start-up, or healthTimeoutSec is too short",
  HEALTH_HTTP_STATUS: "healthUrl answers, but not with a 2xx: check the URL and the service's log (journalctl -u UNIT)",
  HEALTH_UNIT_INACTIVE: "the unit is not running: read journalctl -u UNIT for why it stopped",
  HEALTH_UNIT_NOT_STABLE: "the unit had no time to prove itself: make healthTimeoutSec longer than health.stableSec",
  HEALTH_LOG_NOT_SEEN: "the bot runs but never logged the line of health.logPattern: it may not have joined (check server, channel and the bot password), or the pattern does not match its log",
  HEALTH_LOG_UNREADABLE: "the deploy user cannot read the unit's journal: add it to the systemd-journal group (shipit setup does)",
  CRASH_LOOP: "the unit keeps restarting: read journalctl -u UNIT for the traceback",
};

/** One message per failure kind, with what to do about it. */
export function explainHealth(code: string, message: string): string {
  const advice = ADVICE[code as HealthProblem];
  return advice ? `${message} (${code}): ${advice}` : `${message} (${code})`;
}
