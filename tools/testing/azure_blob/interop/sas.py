#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# sas.py ACCOUNT KEY: prints an account SAS (every service permission on
# services, containers and blobs, valid for a day) made with the Python
# SDK's generate_account_sas, for the interop suite's SAS runs.
#
# Copyright (c) 2026 The hv_azure_blob authors

import datetime
import sys

from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

account, key = sys.argv[1], sys.argv[2]
now = datetime.datetime.now(datetime.timezone.utc)
print(generate_account_sas(
    account, key,
    resource_types=ResourceTypes(service=True, container=True, object=True),
    permission=AccountSasPermissions(read=True, write=True, delete=True, list=True,
                                     add=True, create=True, update=True),
    start=now - datetime.timedelta(minutes=15),
    expiry=now + datetime.timedelta(days=1)))
