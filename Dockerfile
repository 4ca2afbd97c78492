# syntax=docker/dockerfile:1

# Build stage: a static, stripped binary. No build tags: the dev-only
# embedded servers (behind the `dev` tag) stay out of the production image.
# The Go version is go.mod's (the golang images set GOTOOLCHAIN=local).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY . .

# go build downloads only the modules of the packages it compiles, not
# every module in go.mod as `go mod download` did (FerretDB, chromedp and
# compose-go serve only the tests and the dev build). The cache mounts keep
# the modules and the compiled packages from one build to the next.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gatehouse ./cmd/gatehouse

# Final stage: distroless static has CA certificates and tzdata, no shell,
# and a nonroot user (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /gatehouse
USER nonroot:nonroot
EXPOSE 8080
ENV APP_ENV=production PORT=8080
ENTRYPOINT ["/gatehouse"]
CMD ["serve"]
