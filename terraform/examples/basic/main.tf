# custody on an existing Vault/OpenBao. Authenticate the provider as usual (VAULT_ADDR, VAULT_TOKEN with an admin
# policy, VAULT_CACERT for TLS), then `terraform init && terraform apply`. Mint the server's secret_id afterwards,
# outside Terraform, so it never lands in state:
#   bao write -f -field=secret_id auth/approle/role/custody-service/secret-id > custody-secret-id

terraform {
  required_version = ">= 1.3"

  required_providers {
    vault = {
      source  = "hashicorp/vault"
      version = ">= 4.0, < 6.0"
    }
  }
}

provider "vault" {}

module "custody" {
  source = "../../modules/custody"

  # Where the custody servers run: their secret_id and tokens work only from there.
  service_cidrs  = ["10.20.0.0/16"]
  rotation_cidrs = ["10.20.8.0/24"]
  # Secret ids live 90 days; rotate them before (docs/operations.md).
  secret_id_ttl = 90 * 24 * 3600
}

output "custody_service_role_id" {
  value = module.custody.service_role_id
}

output "custody_rotation_role_id" {
  value = module.custody.rotation_role_id
}

output "custody_group_ids" {
  value = module.custody.group_ids
}
