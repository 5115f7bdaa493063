// id: deny-email-domain-for-app
// name: Deny an email domain access to an app
// description: Auth0's published post-login Action for access control, unchanged: users with an @example.com email may not log in to the application "My SPA".
// kind: action
/**
 * @param {Event} event - Details about the user and the context in which they are logging in.
 * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.
 */
exports.onExecutePostLogin = async (event, api) => {
  if (event.user.email && event.user.email.endsWith("@example.com") && event.client.name === "My SPA") {
    api.access.deny(`Access to ${event.client.name} is not allowed.`);
  }
};
