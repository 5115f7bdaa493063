package dashboard

// SearchExamples are the user-search queries the dashboard shows as
// examples (the search box's placeholder is the first). They are the one
// list: the dashboard reads them from config.json, and the search tests run
// every one of them, so an example the UI suggests always works.
var SearchExamples = []string{
	"email:*@example.com AND app_metadata.plan:gold",
	"email.domain:example.com",
	"name:jo*",
	`name:"Jo Doe"`,
	"app_metadata.plan:gold",
	"identities.connection:Username-Password-Authentication",
	"_exists_:phone_number",
	"blocked:true OR NOT email_verified:true",
}
