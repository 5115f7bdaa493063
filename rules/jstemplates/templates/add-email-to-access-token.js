// id: add-email-to-access-token
// name: Add email to access token
// description: The Action form of Auth0's rule "Add email to access token": adds the user's email to the access token as a namespaced claim.
// kind: action
/**
 * @param {Event} event - Details about the user and the context in which they are logging in.
 * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.
 */
exports.onExecutePostLogin = async (event, api) => {
  const namespace = 'https://example.com/';
  api.accessToken.setCustomClaim(namespace + 'email', event.user.email);
};
