// id: email-domain-allowlist
// name: Email domain allowlist
// description: The Action form of Auth0's rule "Email domain whitelist": only verified users with an email in the listed domains may log in.
// kind: action
/**
 * @param {Event} event - Details about the user and the context in which they are logging in.
 * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.
 */
exports.onExecutePostLogin = async (event, api) => {
  // Access should only be granted to verified users.
  if (!event.user.email || !event.user.email_verified) {
    return api.access.deny('Access denied.');
  }

  const allowlist = ['example.com', 'example.org']; // authorized domains
  const domain = event.user.email.split('@').pop().toLowerCase();
  if (!allowlist.includes(domain)) {
    return api.access.deny('Access denied.');
  }
};
