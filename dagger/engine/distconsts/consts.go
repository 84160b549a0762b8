// Package distconsts describes the engine image that shipit builds in
// dagger/engine/Dockerfile: where its binaries, state, socket, builtin
// content and CA certificates live, and the default images the engine names.
// These are exactly the names the engine's code uses at v0.19.10.
package distconsts

const (
	// Paths inside shipit's engine image.
	RuncPath                         = "/usr/local/bin/runc"
	DaggerInitPath                   = "/usr/local/bin/dagger-init"
	EngineDefaultStateDir            = "/var/lib/dagger"
	DefaultEngineSockAddr            = "unix:///run/dagger/engine.sock"
	EngineContainerBuiltinContentDir = "/usr/local/share/dagger/content"
	EngineCustomCACertsDir           = "/usr/local/share/ca-certificates"

	// Names.
	EngineContainerName                = "dagger-engine-v0.19.10"
	OCIVersionAnnotation               = "org.opencontainers.image.version"
	GoSDKManifestDigestEnvName         = "DAGGER_GO_SDK_MANIFEST_DIGEST"
	PythonSDKManifestDigestEnvName     = "DAGGER_PYTHON_SDK_MANIFEST_DIGEST"
	TypescriptSDKManifestDigestEnvName = "DAGGER_TYPESCRIPT_SDK_MANIFEST_DIGEST"

	// Default images. Nothing here pulls them from Docker Hub: the engine
	// reaches docker.io only through the local mirror (engine.json).
	AlpineVersion = "3.22.2"
	AlpineImage   = "alpine:" + AlpineVersion
	GolangImage   = "golang:1.25-alpine"
	BusyboxImage  = "busybox:1.37.0"
)
