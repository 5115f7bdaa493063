// A hostile custom-database script for Authgraph's tests: login's username
// names the attack, its password carries the SQL where one is needed.
package main

import (
	"errors"

	"example.com/authgraph-customdb-templates/script"
)

var sink int

func init() {
	script.Handle(script.Handlers{
		Login: func(attack, sql string) (*script.Profile, error) {
			var err error
			switch attack {
			case "query":
				_, err = script.Query(sql)
			case "exec":
				_, err = script.Exec(sql)
			case "bcrypt_verify": // cost 31: years of CPU
				_, err = script.BcryptVerify("$2a$31$abcdefghijklmnopqrstuuN8b1yxbLUm8bDpWxlB0bERDLVo9JHy6", "x")
			case "bcrypt_hash":
				_, err = script.BcryptHash("x", 31)
			case "pbkdf2":
				_, err = script.PBKDF2Verify("x", "c2FsdA==", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1_000_000_000, "sha256")
			case "argon2": // 4 GiB
				_, err = script.Argon2Verify("$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", "x")
			case "loop":
				for i := 0; ; i++ {
					sink += i
				}
			default:
				err = errors.New("unknown attack")
			}
			if err == nil {
				return &script.Profile{UserID: "hostile"}, nil
			}
			return nil, err
		},
	})
}

func main() {}
