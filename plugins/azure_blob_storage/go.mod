module inlet.dev/plugins/azure_blob_storage

go 1.24

require inlet.dev/sdk v0.0.0

replace inlet.dev/sdk => ../../sdk/go
