"""Business cases of digital health investments: costs by TCO phase, benefits, NPV, ROI, sensitivity, exports."""
