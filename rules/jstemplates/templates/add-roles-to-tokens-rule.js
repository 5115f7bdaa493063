// id: add-roles-to-tokens-rule
// name: Add user roles to tokens (Rule)
// description: Auth0's published Rule "Add user roles to tokens", unchanged: adds context.authorization.roles to both tokens as a namespaced claim.
// kind: rule
function (user, context, callback) {
  const namespace = 'https://my-app.example.com';
  const assignedRoles = (context.authorization || {}).roles;

  let idTokenClaims = context.idToken || {};
  let accessTokenClaims = context.accessToken || {};

  idTokenClaims[`${namespace}/roles`] = assignedRoles;
  accessTokenClaims[`${namespace}/roles`] = assignedRoles;

  context.idToken = idTokenClaims;
  context.accessToken = accessTokenClaims;

  callback(null, user, context);
}
