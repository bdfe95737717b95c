# Helpers shared by the rules. Everything a rule reads from the config goes
# through params: so that changing it reruns that rule and what depends on it.

wildcard_constraints:
    dataset="[A-Za-z0-9_.-]+",


def settings(section):
    """params: function giving one config section as seen by a dataset."""

    def get(wildcards):
        return dataset_config(config, wildcards.dataset)[section]

    return get


def dataset_path(key):
    """input: function giving a dataset's file path with environment variables expanded."""
    from pipeline.paths import expand_path

    def get(wildcards):
        return expand_path(config["datasets"][wildcards.dataset][key], f"datasets.{wildcards.dataset}.{key}")

    return get
