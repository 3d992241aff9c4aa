# Curbside in a container: a static binary on a distroless base, run as a
# non-root user, with its data directory on a volume.
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" -t curbside .
#   docker run -d --name curbside -p 443:443 -p 80:80 -v curbside-data:/data \
#     -e CURBSIDE_DOMAIN=chat.example-practice.org -e CURBSIDE_EMAIL=it@example-practice.org curbside
#
# docs/OPERATIONS.md ("In a container") has the other deployment shapes.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# .git stays out of the build context (.dockerignore), so Go cannot stamp
# the commit itself: COMMIT names it for `curbside version` and the log.
ARG COMMIT=
# modernc.org/sqlite is pure Go, so the binary needs no C library.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/curbside . \
 && install -d -o 65532 -g 65532 -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/curbside /usr/local/bin/curbside
COPY --from=build --chown=65532:65532 /out/data /data
# Certificates, keys and the database live here: back it up, or replicate it.
VOLUME /data
USER nonroot:nonroot
# 443 and 80 with --domain (Docker lets a non-root process bind them inside
# the container); 8080 behind a proxy of your own.
EXPOSE 443 80 8080
ENV CURBSIDE_DATA=/data
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/curbside"]
CMD ["serve"]
