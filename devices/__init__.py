"""Devices (desk phones, softphones, mobile apps, web softphones), their SIP credentials and push bindings."""
