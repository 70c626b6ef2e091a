from pathlib import Path

import siyu
from siyu.worker.catalog import JOB_MODULES, load_job_handlers
from siyu.worker.registry import registered_names


def test_every_domain_jobs_module_is_in_the_catalog() -> None:
    root = Path(siyu.__file__).parent
    modules = [*root.glob("**/jobs.py"), *root.glob("**/*_jobs.py")]
    found = {"siyu." + ".".join(path.relative_to(root).with_suffix("").parts) for path in modules}
    assert found == set(JOB_MODULES)


def test_loading_the_catalog_registers_the_domain_jobs() -> None:
    load_job_handlers()
    names = registered_names()
    assert {"tags.batch"} <= set(names)
    assert any(name.startswith("commerce.") for name in names)
    assert any(name.startswith("customers.") for name in names)
    assert "wecom.process_callback" in names
