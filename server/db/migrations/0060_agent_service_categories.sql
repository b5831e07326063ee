-- Published by the services room for the agent directory: which categories each agent offers an
-- enabled service in, so `GET /v1/agents?category=…` (what seed 004 clients send) finds the agents
-- of a category without the agents room reading the services table.
CREATE VIEW agent_service_categories AS
SELECT DISTINCT s.agent_id, s.category FROM services AS s WHERE s.enabled;

CREATE INDEX services_category_agent_idx ON services (category, agent_id) WHERE enabled;
