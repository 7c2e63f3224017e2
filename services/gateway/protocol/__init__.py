"""The AWS wire protocol: botocore service models, shape reading/writing, routing and responses."""
