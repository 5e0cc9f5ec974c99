DROP TABLE service_state;
