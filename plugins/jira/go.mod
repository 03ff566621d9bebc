module inlet.dev/plugins/jira

go 1.24

require (
	inlet.dev/plugins/shared/atlassian v0.0.0
	inlet.dev/sdk v0.0.0
)

replace (
	inlet.dev/plugins/shared/atlassian => ../shared/atlassian
	inlet.dev/sdk => ../../sdk/go
)
