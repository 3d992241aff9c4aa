package replica

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	lss3 "github.com/benbjohnson/litestream/s3"
)

// s3Objects keeps objects in an S3 bucket under a prefix. It is configured
// from Litestream's S3 client for the same URL (bucket, endpoint, region,
// path style, credentials from AWS_* or the shared credentials file), so the
// database and the files reach the same place the same way.
type s3Objects struct {
	client *s3.Client
	bucket string
	prefix string
}

func newS3Objects(ctx context.Context, c *lss3.ReplicaClient, prefix string) (*s3Objects, error) {
	region := c.Region
	if region == "" {
		region = lss3.DefaultRegion
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if c.SkipVerify {
		opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		})))
	}
	if c.AccessKeyID != "" && c.SecretAccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("replica: S3 configuration: %w", err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = c.ForcePathStyle
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
			// S3-compatible servers do not all take the SDK's default
			// trailing checksums; send them only when required.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	return &s3Objects{client: client, bucket: c.Bucket, prefix: prefix}, nil
}

func (o *s3Objects) key(name string) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("replica: bad object name %q", name)
	}
	return path.Join(o.prefix, name), nil
}

func (o *s3Objects) Put(ctx context.Context, name string, r io.ReadSeeker, size int64) error {
	key, err := o.key(name)
	if err != nil {
		return err
	}
	_, err = o.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &o.bucket, Key: &key, Body: r, ContentLength: aws.Int64(size)})
	if err != nil {
		return fmt.Errorf("replica: put %s: %w", key, err)
	}
	return nil
}

func (o *s3Objects) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	key, err := o.key(name)
	if err != nil {
		return nil, err
	}
	out, err := o.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &o.bucket, Key: &key})
	if err != nil {
		if notFound(err) {
			return nil, fmt.Errorf("replica: %s: %w", key, os.ErrNotExist)
		}
		return nil, fmt.Errorf("replica: get %s: %w", key, err)
	}
	return out.Body, nil
}

func (o *s3Objects) Delete(ctx context.Context, name string) error {
	key, err := o.key(name)
	if err != nil {
		return err
	}
	if _, err := o.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &o.bucket, Key: &key}); err != nil && !notFound(err) {
		return fmt.Errorf("replica: delete %s: %w", key, err)
	}
	return nil
}

func notFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var api smithy.APIError
	return errors.As(err, &nsk) || errors.As(err, &nf) || (errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound"))
}
