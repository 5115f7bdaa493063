module example.com/authgraph-customdb-templates

go 1.24
