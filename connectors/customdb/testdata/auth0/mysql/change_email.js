function changeEmail(email, newEmail, verified, callback) {
  const mysql = require('mysql');

  const connection = mysql.createConnection({
    host: 'localhost',
    user: 'me',
    password: 'secret',
    database: 'mydb'
  });

  connection.connect();

  const query = 'UPDATE users SET email = ?, email_verified = ? WHERE email = ?';

  connection.query(query, [ newEmail, verified, email ], function(err, results) {
    if (err) return callback(err);
    callback(null, results.affectedRows > 0);
  });
}
