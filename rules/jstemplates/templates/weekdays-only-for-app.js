// id: weekdays-only-for-app
// name: Allow access only on weekdays for an app
// description: Auth0's published post-login Action for access control, unchanged: the application "APP_NAME" may only be used from Monday to Friday (UTC).
// kind: action
/**
 * @param {Event} event - Details about the user and the context in which they are logging in.
 * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.
 */
 exports.onExecutePostLogin = async (event, api) => {
  if (event.client.name === "APP_NAME") {
    const d = new Date().getDay();

    if (d === 0 || d === 6) {
      api.access.deny("This app is only available during the week.");
    }
  }
}
