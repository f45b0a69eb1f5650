# Copy to <account>.tfvars with your repository; `terraform apply -var-file=<account>.tfvars`.
region            = "eu-west-1"
github_repository = "example-org/authkit"
environments      = ["dev", "staging", "prod"]
