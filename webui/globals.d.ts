// Declarations for `tsc --noEmit` over the web app (tsconfig.json): the
// test hooks the pages publish on window, and what TypeScript's DOM
// library does not know yet. Not served; the app has no build step.
interface Window {
  /** The PWA's state for the browser tests (main.js). */
  curbside: any;
  /** The console's state for the browser tests (admin/main.js). */
  curbsideConsole: any;
  /** The welcome page's state for the browser tests (welcome.js). */
  curbsideWelcome: any;
}

interface NotificationOptions {
  /** Sound and vibrate again when a notification with the same tag replaces one. */
  renotify?: boolean;
}
