/** The hidden marker that identifies shipit's sticky PR comment. */
export const STICKY_MARKER = "<!-- shipit:sticky -->";
