# syntax=docker/dockerfile:1

# Build stage: a static, stripped binary. No build tags: the dev-only
# embedded servers (behind the `dev` tag) stay out of the production image.
FROM golang:1.26-bookworm AS build
WORKDIR /src

# Dependencies first, so this layer is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gatehouse ./cmd/gatehouse

# Final stage: distroless static has CA certificates and tzdata, no shell,
# and a nonroot user (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /gatehouse
USER nonroot:nonroot
EXPOSE 8080
ENV APP_ENV=production PORT=8080
ENTRYPOINT ["/gatehouse"]
CMD ["serve"]
