"""moto's S3 in server mode on loopback: a real HTTP S3 endpoint that botocore and
django-storages talk to exactly as they would to AWS (signatures, HEAD, multipart)."""

import logging
import secrets

import boto3
from moto.server import ThreadedMotoServer

ACCESS_KEY = "AKIATESTSMOSITE"
SECRET_KEY = "test-secret-smosite"
REGION = "eu-west-1"


class MotoS3Server:
    def __init__(self):
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""
        self.port = 0

    def start(self) -> "MotoS3Server":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
        self.server.start()
        host, self.port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{self.port}"
        return self

    def stop(self):
        self.server.stop()

    def start_again(self) -> None:
        """Serve again on the same port after `stop` (an outage ending). moto keeps its
        buckets in this process, so they come back with what they held."""
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def bucket_create(self) -> str:
        name = f"smosite-test-{secrets.token_hex(4)}"
        self.client().create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        return name

    def storage_url(self, bucket: str, *, prefix: str = "private") -> str:
        """PRIVATE_STORAGE_URL for the bucket, credentials inline."""
        return (
            f"s3://{ACCESS_KEY}:{SECRET_KEY}@{bucket}/{prefix}"
            f"?endpoint_url={self.endpoint}&region={REGION}"
        )

    def keys(self, bucket: str) -> list[str]:
        found = self.client().list_objects_v2(Bucket=bucket).get("Contents", [])
        return sorted(item["Key"] for item in found)

    def body(self, bucket: str, key: str) -> bytes:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()
