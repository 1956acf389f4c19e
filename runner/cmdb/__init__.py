"""The CMDB: asset records in YAML, validated, turned into an Ansible inventory."""
