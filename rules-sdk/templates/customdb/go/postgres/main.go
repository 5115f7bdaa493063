// Custom-database template for PostgreSQL: every script of a connection
// (login, get_user, create, verify, change_password, delete, change_email)
// in one module, against the schema in schema.sql (a users table with
// bcrypt hashes). Upload the same module for each key of options.scripts.
//
// To adapt it to your schema, change the SQL below and the columns read in
// profile. Keep the parameters ($1, $2…): never build SQL from user input.
package main

import (
	"strconv"
	"strings"

	"example.com/authgraph-customdb-templates/script"
)

// idPrefix keeps user ids distinct from other sources: users become
// auth0|pg|<id>. Never change it once users have migrated.
const idPrefix = "pg|"

// bcryptCost of the hashes create and change_password write.
const bcryptCost = 10

const columns = "id, email, password, nickname, email_verified"

func profile(r script.Row) *script.Profile {
	return &script.Profile{
		UserID:        idPrefix + r.String("id"),
		Email:         r.String("email"),
		EmailVerified: r.Bool("email_verified"),
		Nickname:      r.String("nickname"),
	}
}

func findByEmail(email string) (script.Row, error) {
	rows, err := script.Query("SELECT "+columns+" FROM users WHERE lower(email) = lower($1)", email)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0], nil
}

func init() {
	script.Handle(script.Handlers{
		Login: func(email, password string) (*script.Profile, error) {
			r, err := findByEmail(email)
			if err != nil {
				return nil, err
			}
			if r == nil {
				return nil, script.WrongCredentials("", "unknown user")
			}
			ok, err := script.BcryptVerify(r.String("password"), password)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, script.WrongCredentials(r.String("email"), "wrong password")
			}
			return profile(r), nil
		},
		GetUser: func(email string) (*script.Profile, error) {
			r, err := findByEmail(email)
			if err != nil || r == nil {
				return nil, err
			}
			return profile(r), nil
		},
		Create: func(u script.NewUser) error {
			if u.Email == "" || u.Password == "" {
				return script.Validation("email and password are required")
			}
			hash, err := script.BcryptHash(u.Password, bcryptCost)
			if err != nil {
				return err
			}
			_, err = script.Exec("INSERT INTO users (email, password, nickname) VALUES ($1, $2, $3)",
				u.Email, hash, strings.Split(u.Email, "@")[0])
			if err != nil && strings.Contains(err.Error(), "duplicate key") {
				return script.UserExists("the user already exists")
			}
			return err
		},
		Verify: func(email string) (bool, error) {
			n, err := script.Exec("UPDATE users SET email_verified = true WHERE lower(email) = lower($1)", email)
			return n > 0, err
		},
		ChangePassword: func(email, newPassword string) (bool, error) {
			hash, err := script.BcryptHash(newPassword, bcryptCost)
			if err != nil {
				return false, err
			}
			n, err := script.Exec("UPDATE users SET password = $1 WHERE lower(email) = lower($2)", hash, email)
			return n > 0, err
		},
		Delete: func(id string) error {
			n, err := strconv.ParseInt(strings.TrimPrefix(id, idPrefix), 10, 64)
			if err != nil {
				return script.Validation("not a user id of this database: " + id)
			}
			_, err = script.Exec("DELETE FROM users WHERE id = $1", n)
			return err
		},
		ChangeEmail: func(email, newEmail string, verified bool) (bool, error) {
			n, err := script.Exec("UPDATE users SET email = $1, email_verified = $2 WHERE lower(email) = lower($3)",
				newEmail, verified, email)
			if err != nil && strings.Contains(err.Error(), "duplicate key") {
				return false, script.UserExists("the new email is taken")
			}
			return n > 0, err
		},
	})
}

func main() {}
