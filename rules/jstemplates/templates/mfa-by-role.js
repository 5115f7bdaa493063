// id: mfa-by-role
// name: Require MFA for some roles or apps
// description: Asks for a second factor when the user has one of the listed roles or logs in to one of the listed applications, unless the session already passed one (the Action form of Auth0's MFA rules).
// kind: action
/**
 * @param {Event} event - Details about the user and the context in which they are logging in.
 * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.
 */
exports.onExecutePostLogin = async (event, api) => {
  const ROLES_WITH_MFA = ['admin'];
  const CLIENTS_WITH_MFA = ['REPLACE_WITH_YOUR_CLIENT_ID'];

  const completedMfa = event.authentication.methods.some((method) => method.name === 'mfa');
  if (completedMfa) {
    return;
  }

  const roles = (event.authorization && event.authorization.roles) || [];
  if (roles.some((role) => ROLES_WITH_MFA.includes(role)) || CLIENTS_WITH_MFA.includes(event.client.client_id)) {
    api.multifactor.enable('any', { allowRememberBrowser: false });
  }
};
