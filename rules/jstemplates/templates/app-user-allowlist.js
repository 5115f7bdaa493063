// id: app-user-allowlist
// name: Allowlist for a specific app
// description: The Action form of Auth0's rule "Whitelist for a Specific App": only the listed email addresses may log in to one application; other applications are not affected.
// kind: action
/**
 * @param {Event} event - Details about the user and the context in which they are logging in.
 * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.
 */
exports.onExecutePostLogin = async (event, api) => {
  // only enforce for NameOfTheAppWithAllowlist
  // bypass this Action for all other apps
  if (event.client.name !== 'NameOfTheAppWithAllowlist') {
    return;
  }

  // Access should only be granted to verified users.
  if (!event.user.email || !event.user.email_verified) {
    return api.access.deny('Access denied.');
  }

  const allowlist = ['user1@example.com', 'user2@example.com']; // authorized users
  if (!allowlist.includes(event.user.email)) {
    api.access.deny('Access denied.');
  }
};
