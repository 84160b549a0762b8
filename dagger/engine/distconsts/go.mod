// shipit's own configuration of its engine image (dagger/engine/Dockerfile):
// the nested module github.com/dagger/dagger/engine/distconsts that the Go
// module proxy refuses at every version. engine-up.sh copies this directory
// to engine/distconsts of the dagger source it builds (dagger's go.mod
// replaces the module with that path). test/unit/engine-image.test.ts checks
// every value against the Dockerfile.
module github.com/dagger/dagger/engine/distconsts

go 1.24
