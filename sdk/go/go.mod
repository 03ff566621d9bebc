module inlet.dev/sdk

go 1.24
