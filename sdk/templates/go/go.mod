module __SERVICE_TYPE__

go 1.24

require inlet.dev/sdk v0.0.0

// sdk/go/build.sh finds the SDK by itself (a temporary go.work). For your editor or `go test`,
// point at it here, e.g.:
// replace inlet.dev/sdk => ../../sdk/go
