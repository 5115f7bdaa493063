// id: first-login-metadata
// name: Set app_metadata on first login
// description: Records, on the user's first login, when and through which application they signed up (app_metadata), and sets a default user_metadata.color as Auth0's rule "Add persistent attributes to the user" does.
// kind: action
/**
 * @param {Event} event - Details about the user and the context in which they are logging in.
 * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.
 */
exports.onExecutePostLogin = async (event, api) => {
  if (event.stats.logins_count === 1 && !event.user.app_metadata.signed_up_with) {
    api.user.setAppMetadata('signed_up_with', event.client.client_id);
    api.user.setAppMetadata('signed_up_at', event.user.created_at);
  }
  if (!event.user.user_metadata.color) {
    api.user.setUserMetadata('color', 'blue');
  }
  api.idToken.setCustomClaim('https://example.com/favorite_color', event.user.user_metadata.color);
};
