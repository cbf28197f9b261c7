"""The S3 side of tests/serve_s3.rs, with boto3 (it comes with moto[server]).

    s3_tool.py setup ENDPOINT BUCKET DIR   IAM user with an s3:* policy and a key, the bucket,
                                            DIR uploaded into it; then signature checking is
                                            switched on. Prints {"access_key_id", "secret_access_key"}.
    s3_tool.py get ENDPOINT BUCKET KEY ID SECRET     the object's bytes on stdout (exit 3: none)
    s3_tool.py denied ENDPOINT BUCKET KEY ID         the error code a wrong secret gets
"""

import json
import os
import sys
import urllib.request

import boto3
import botocore.exceptions


def client(service, endpoint, key_id, secret):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


def setup(endpoint, bucket, folder):
    # moto checks signatures only once IAM authentication is on: everything before the
    # reset below runs unauthenticated (creating the user the key belongs to), everything after
    # must be signed with a key of a user whose policy allows the action.
    iam = client("iam", endpoint, "setup", "setup")
    iam.create_user(UserName="provedge")
    iam.put_user_policy(
        UserName="provedge",
        PolicyName="store",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="provedge")["AccessKey"]
    s3 = client("s3", endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    s3.create_bucket(Bucket=bucket)
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                s3.put_object(Bucket=bucket, Key=os.path.relpath(path, folder), Body=f.read())
    # From here on every request's signature is checked (moto's INITIAL_NO_AUTH_ACTION_COUNT,
    # set through its server-mode API to 0 actions without authentication).
    reset = urllib.request.Request(
        endpoint + "/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(reset).read()
    print(json.dumps({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}))


def get(endpoint, bucket, key, key_id, secret):
    try:
        body = client("s3", endpoint, key_id, secret).get_object(Bucket=bucket, Key=key)["Body"]
    except botocore.exceptions.ClientError as e:
        print(e.response["Error"]["Code"], file=sys.stderr)
        sys.exit(3)
    sys.stdout.buffer.write(body.read())


def denied(endpoint, bucket, key, key_id):
    try:
        client("s3", endpoint, key_id, "not-the-secret").get_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as e:
        print(e.response["Error"]["Code"])
        return
    print("allowed")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"setup": setup, "get": get, "denied": denied}[command](*args)
