// id: add-roles-to-tokens
// name: Add user roles to tokens
// description: Auth0's published post-login Action "Add user roles to ID and Access tokens", unchanged: adds event.authorization.roles to both tokens as a namespaced claim.
// kind: action
/**
 * @param {Event} event - Details about the user and the context in which they are logging in.
 * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.
 */
exports.onExecutePostLogin = async (event, api) => {
  const namespace = 'https://my-app.example.com';
  if (event.authorization) {
    api.idToken.setCustomClaim(`${namespace}/roles`, event.authorization.roles);
    api.accessToken.setCustomClaim(`${namespace}/roles`, event.authorization.roles);
  }
}
