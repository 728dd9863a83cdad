"""Devices (desk phones, softphones, mobile apps, web softphones): SIP credentials, push."""
